"""Who is calling: users with roles and organisations, argon2 passwords, hashed API tokens
and browser sessions, and the dependency that authenticates every ``/api`` request."""
