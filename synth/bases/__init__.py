"""Stage 3: motion bases, a decomposition of facial expression into editable displacement fields."""
