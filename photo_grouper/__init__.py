"""photo-grouper: group a photo library by who or what is in it."""

__version__ = "0.1.0"
