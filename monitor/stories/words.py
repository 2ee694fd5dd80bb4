"""Fixed English word lists the story engine's text analysis relies on.

Kept apart from the analysis code so the lists can be read (and argued about) on their own.
Every list is general English, not tuned to any corpus.
"""

from __future__ import annotations

# Function words and the reporting verbs every news story uses ("said", "told"): they say
# nothing about which event an article reports, nor whether a sentence is new.
STOP_WORDS = frozenset(
    ["a", "about", "above", "across", "after", "afterwards", "again", "against", "all", "almost", "along", "already", "also", "although", "always", "am", "among", "amongst", "an", "and", "another", "any", "anybody", "anyone", "anything", "anyway", "anywhere", "are", "aren't", "around", "as", "at", "be", "became", "because", "become", "becomes", "been", "before", "being", "below", "beside", "besides", "between", "beyond", "both", "but", "by", "can", "can't", "cannot", "could", "couldn't", "did", "didn't", "do", "does", "doesn't", "doing", "don't", "done", "down", "during", "each", "either", "else", "elsewhere", "enough", "etc", "even", "ever", "every", "everybody", "everyone", "everything", "everywhere", "few", "for", "from", "further", "had", "hadn't", "has", "hasn't", "have", "haven't", "having", "he", "he'd", "he'll", "he's", "her", "here", "here's", "hers", "herself", "him", "himself", "his", "how", "how's", "however", "i", "i'd", "i'll", "i'm", "i've", "if", "in", "into", "is", "isn't", "it", "it's", "its", "itself", "just", "let's", "may", "me", "might", "mine", "more", "most", "mostly", "much", "must", "mustn't", "my", "myself", "neither", "no", "nobody", "none", "nor", "not", "nothing", "now", "nowhere", "of", "off", "often", "on", "once", "one's", "only", "onto", "or", "other", "others", "otherwise", "ought", "our", "ours", "ourselves", "out", "over", "own", "per", "perhaps", "quite", "rather", "really", "same", "shall", "shan't", "she", "she'd", "she'll", "she's", "should", "shouldn't", "since", "so", "some", "somebody", "someone", "something", "sometime", "sometimes", "somewhere", "still", "such", "than", "that", "that's", "the", "their", "theirs", "them", "themselves", "then", "there", "there's", "thereby", "therefore", "these", "they", "they'd", "they'll", "they're", "they've", "this", "those", "though", "through", "throughout", "thus", "to", "too", "toward", "towards", "under", "until", "unto", "up", "upon", "us", "very", "via", "was", "wasn't", "we", "we'd", "we'll", "we're", "we've", "were", "weren't", "what", "what's", "whatever", "when", "when's", "whenever", "where", "where's", "whereas", "wherever", "whether", "which", "while", "who", "who's", "whoever", "whole", "whom", "whose", "why", "why's", "will", "with", "within", "without", "won't", "would", "wouldn't", "yet", "you", "you'd", "you'll", "you're", "you've", "your", "yours", "yourself", "yourselves", "said", "say", "says", "saying", "told", "tell", "tells", "according", "added", "adds", "mr", "mrs", "ms"]
)

# Words that stand for a number: a number in a sentence is a fact ("six hours", "two rounds").
NUMBER_WORDS = frozenset(
    ["two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety", "hundred", "hundreds", "thousand", "thousands", "million", "millions", "billion", "billions", "trillion", "dozen", "dozens", "half"]
)

# Capitalised, but no name: every story has a weekday, so these must not weigh like names.
CALENDAR_WORDS = frozenset(
    ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december", "today", "yesterday", "tomorrow"]
)

# Abbreviations whose full stop does not end a sentence.
ABBREVIATIONS = frozenset(
    ["mr", "mrs", "ms", "dr", "prof", "gen", "lt", "col", "maj", "capt", "sgt", "cmdr", "adm", "gov", "sen", "rep", "rev", "st", "jr", "sr", "vs", "etc", "inc", "ltd", "co", "corp", "no", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec"]
)

# Lines with one of these are page furniture, never a new fact, however long they are.
BOILERPLATE_MARKERS = (
    "read more",
    "click here",
    "subscribe",
    "sign up",
    "newsletter",
    "all rights reserved",
    "copyright",
    "©",
    "follow us",
    "share this",
    "related:",
    "related stories",
    "related articles",
    "advertisement",
    "cookie",
    "download the app",
    "this story has been updated",
    "contributed to this report",
    "contributed reporting",
)
