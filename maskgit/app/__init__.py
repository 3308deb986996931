"""`maskgit app`: a local page to draw a mask and watch MaskGIT fill it step by step (optional extra: Gradio).

actions.py holds what the page does (no web framework); page.py lays it out with Gradio.
"""
