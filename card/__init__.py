"""card — see ../shared/DESIGN.md."""
