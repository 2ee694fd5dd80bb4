"""Article sources: the readers that turn outside input (dropped files, feeds) into raw articles."""
