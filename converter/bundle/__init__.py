"""A bundle on disk: its manifest and `Artifact` records (`manifest`), the
staging folder it is written in and renamed from (`staging`), and the signal
handling that removes a staging folder when a run is interrupted (`signals`)."""
