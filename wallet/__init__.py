"""wallet — see ../shared/DESIGN.md."""
