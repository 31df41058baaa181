"""Double-click entry point: opens the latent-explorer window on the bundled digits model."""
from latent_explorer.cli import gui_main

if __name__ == "__main__":
    gui_main()
