#!/usr/bin/env python3
"""Export the most frequent words of several languages from wordfreq to a TSV.

The Zipf query-log generator of crates/autocomplete reads the committed sample
(crates/autocomplete/data/words.tsv), so tests and benches never need Python. Regenerate
it with:

    pip3 install wordfreq
    python3 bench/autocomplete-words.py > crates/autocomplete/data/words.tsv

Columns: language, word, frequency (occurrences per billion words, an integer, as
wordfreq estimates it). Rows are sorted by language then descending frequency.
"""

import sys

from wordfreq import get_frequency_dict, top_n_list

# (language, how many words): English dominates the log as it does on the web; the
# others bring accents (fr, de, es) and CJK (zh, ja) so that about a fifth of generated
# queries are non-ASCII.
LANGUAGES = [("en", 2500), ("fr", 900), ("de", 900), ("es", 900), ("zh", 700), ("ja", 700)]


def main() -> None:
    out = sys.stdout
    out.write("# language\tword\tper_billion (wordfreq 3, bench/autocomplete-words.py)\n")
    for lang, count in LANGUAGES:
        # The frequency table itself, not word_frequency(): that one tokenizes its input
        # first, which for zh and ja needs jieba/MeCab, and the table's words are tokens.
        frequencies = get_frequency_dict(lang)
        for word in top_n_list(lang, count):
            # Tabs and newlines are the file's separators; wordfreq words never hold them,
            # but a word list is input, so say so rather than trust it.
            if "\t" in word or "\n" in word or not word.strip():
                continue
            per_billion = max(1, round(frequencies.get(word, 0.0) * 1e9))
            out.write(f"{lang}\t{word}\t{per_billion}\n")


if __name__ == "__main__":
    main()
