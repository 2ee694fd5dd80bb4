"""Storage: the only package that talks SQL."""
