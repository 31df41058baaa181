"""The desktop explorer (PySide6 + pyqtgraph + superqt). Everything Qt lives in this package.

``app.run_gui(args)`` is the entry point (``latent-explorer gui``); importing this package
imports nothing heavy, so the window can be on screen before torch is even loaded.
"""
