"""Double-click entry point: opens the latent-explorer window on the bundled digits model."""
from latent_explorer.gui.app import main

if __name__ == "__main__":
    main()
