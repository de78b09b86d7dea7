"""The train function."""
