"""Reading users' data: bytes to text to a table, the text and label columns, training rows, tokens.

Nothing in this package imports TensorFlow. ``decode`` (encodings), ``table`` (CSV parsing),
``columns`` (guessing the roles), ``rows`` (cleaning, sampling, splitting: the one path to
training rows), ``tokens`` (keras-bert's tokenizer, vocabularies, ids), ``samples`` (the shipped
data sets), ``export`` (CSV downloads), ``limits`` (what a file may hold) and ``guards`` (the
checks that refuse a file over them, each before the step it would make slow).
"""
