"""ChainSight: operations platform for cell and gene therapy clinical trials."""

__version__ = "0.1.0"
