"""A small but real ML package whose models are drawn in the example docs."""
