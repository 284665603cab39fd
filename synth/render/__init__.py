"""Stage 5: triangulated morphing of pristine frames onto perturbed landmarks."""
