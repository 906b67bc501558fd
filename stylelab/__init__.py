"""stylelab: arbitrary style transfer, from the statistics of AdaIN to RWKV scans.

The package the book builds chapter by chapter. Importable without Jupyter;
heavy submodules (encoders, kernels) are imported on use, not here.
"""

__version__ = "0.1.0"
