"""The predict function."""
