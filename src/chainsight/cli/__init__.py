"""The `chainsight` command line."""
