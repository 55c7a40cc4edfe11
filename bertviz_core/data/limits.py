"""What a user's file may hold. Each limit is named in the sentence that refuses a file over it.

A file under the upload limit can still be built to be slow: thousands of columns, one enormous
cell, lines of ten thousand words. These limits bound the time and memory of reading and tokenising
any upload, and they are checked before each expensive step (``guards`` holds the checks).
"""

MAX_UPLOAD_MB = 25  # the CSV uploader's limit (the server's, in .streamlit/config.toml, is a checkpoint's)
MAX_READ_ROWS = 500_000  # rows read at most before refusing
MAX_ROWS = 20_000  # rows trained on at most; larger tables are sampled (stratified), not refused
MAX_CLASSES = 50  # more distinct labels than this is not a classification task we can show
MIN_ROWS_PER_CLASS = 2  # one row for training and one for validation

# Reading, shaping and guessing cost time per column, not only per byte: 100,000 columns of 20 rows
# (5.7 MB) took pandas a minute and 800 MB. Training needs two columns and real exports carry a few
# dozen; at 200, the widest table a 25 MB file can hold (tiny cells) still reads in seconds.
MAX_COLUMNS = 200

# Training cuts every text to the sequence length (at most 2,048 tokens, about 12,000 characters of
# English), so a longer cell only costs tokenising time. 50,000 characters (about 8,000 words) is
# four times what the longest sequence reads. Header names are not held to it: they are never
# tokenised, and a long one (over the csv module's 131,072 characters) is read as before.
MAX_CELL_CHARS = 50_000

# A physical line over this is refused before parsing, by a quick scan of the text: it catches one
# giant unbroken cell (or row) at once. A row of twenty cells at the cell limit still fits.
MAX_LINE_CHARS = 20 * MAX_CELL_CHARS

# keras-bert's tokenizer is pure Python. The token preview, and training again, run it over every
# text (vocabulary, then ids) at about 77,000 words (500,000 characters) a second on a 2-core
# machine: 20,000 reviews of 100 words (2,000,000 words) pass with room to spare, and at the limit
# each run takes about half a minute. Words are counted as str.split() finds them.
MAX_TOTAL_WORDS = 2_500_000

# Tokenising time follows characters, not words: text without spaces (or Chinese and Japanese,
# where every character is a token) passes any word limit. 16,000,000 characters is the word limit
# at 6.4 characters a word (English with its spaces), so ordinary prose meets the word limit first.
MAX_TOTAL_TEXT_CHARS = 16_000_000
