"""The business card's domain: parsers for each field, the one-sentence extractor, the stored card."""
