"""Stage 4: kinematic perturbations that break the coupling between facial regions, with labels."""
