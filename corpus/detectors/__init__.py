"""The baseline detectors of ``kinefake evaluate``: what each sees of a clip, its nets, its scores."""
