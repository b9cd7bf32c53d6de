"""Files shipped beside the code (trained weights, desktop entry): installed as photo_grouper.resources."""
