"""The one evaluation protocol every image method is measured by.

perceptual.py  content and style loss as StyTr²/StyA2K report them, on any encoder
structure.py   an SSIM structure score against the content
lpips.py       LPIPS through the `lpips` package, when its weights are on disk
temporal.py    a synthetic video with exact motion, and the warping error of a method
evaluate.py    every (content, style) pair through every method: `stylelab evaluate`
"""
