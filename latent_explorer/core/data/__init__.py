"""Data: robust image loading, the bundled datasets (mnist-5k, shapes) and the procedural shapes."""
