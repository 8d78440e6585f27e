"""resolver package."""
