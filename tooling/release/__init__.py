"""The release: its steps, journal, repository operations, upload and credentials."""
