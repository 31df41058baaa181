"""The window's controllers: small QObjects that each own one part of the app's state and talk to
the worker, to the widgets (``context.Views``) and to each other through ``context.Context``.

model (load, device, precision, working size) · preview (latent -> pixels, tiers, samples, undo)
· sliders (slider edits, strips, spatial directions, channels) · map (encode, project, select,
click) · morph (strips, scrubbing, blends) · exports · bookmarks · sessions (save, open, autosave)
· training · readiness (when the window is ready for a screenshot).
"""
