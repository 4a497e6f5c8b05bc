"""One module per detector; each exposes ``detect(inputs) -> list[Alert]``."""
