"""One construct per concern, plus the function factory they share."""
