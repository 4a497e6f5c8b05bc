"""The HTTP service: REST resources under ``/api`` with roles and organisation scoping,
server-sent events and signed webhooks. ``create_app(settings)`` builds the application."""
