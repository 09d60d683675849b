"""Evidence files: checked by content, stored once per sha256, never by the client's name."""
