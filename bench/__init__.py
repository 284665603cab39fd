"""``make bench``: per-stage ms/frame and frames/s on the shared real clips, one core."""
