"""What a user's file may hold. Each limit is named in the sentence that refuses a file over it.

A file under the upload limit can still be built to be slow: thousands of columns, one enormous
cell, lines of ten thousand words. These limits bound the time and memory of reading and tokenising
any upload, and they are checked before each expensive step.
"""

MAX_UPLOAD_MB = 25  # .streamlit/config.toml sets server.maxUploadSize to the same number
MAX_READ_ROWS = 500_000  # rows read at most before refusing
MAX_ROWS = 20_000  # rows trained on at most; larger tables are sampled (stratified), not refused
MAX_CLASSES = 50  # more distinct labels than this is not a classification task we can show
MIN_ROWS_PER_CLASS = 2  # one row for training and one for validation
