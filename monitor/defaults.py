"""Every user-facing default in one place, each with the reason for its value.

Config models read their defaults from here, and the README's configuration reference
quotes them, so a default changes in exactly one spot.
"""

from __future__ import annotations

# --- configuration -------------------------------------------------------------------

#: Where ``--config`` points when neither the option nor ``$MONITOR_CONFIG`` is given.
CONFIG_PATH = "config/monitor.yaml"

#: The embedded database: a file next to the working directory, so a first run needs nothing.
DATABASE_URL = "sqlite:///var/monitor.db"

#: How often a source is polled when its entry has no ``every:``.
SOURCE_EVERY_SECONDS = 300.0

# --- storage -------------------------------------------------------------------------

#: SQLite waits this long for a lock instead of failing at once with "database is locked".
SQLITE_BUSY_TIMEOUT_MS = 10_000

# --- drop folder ---------------------------------------------------------------------

#: Files larger than this are rejected unread: an article is a few KB, so 5 MB is a mistake.
FOLDER_MAX_FILE_BYTES = 5 * 1024 * 1024

#: Only files whose name ends like this are picked up from a drop folder.
FOLDER_PATTERN = "*.txt"

#: A drop folder's new files are read and stored this many at a time: a backlog of any size
#: (an archive dropped at once) goes through in one poll with the memory of one step, some
#: 200 MB at news-length articles, instead of being read into memory whole first.
FOLDER_FILES_PER_STEP = 5000

# --- notifiers -----------------------------------------------------------------------

#: Slack's Web API, used when ``notifiers.slack.api_url`` is not set.
SLACK_API_URL = "https://slack.com/api/"

#: Seconds one Slack or SMTP request may take before it counts as a transient failure.
NOTIFY_TIMEOUT_SECONDS = 30.0

#: Slack allows about one message per second per channel; faster bursts get HTTP 429.
SLACK_POST_INTERVAL_SECONDS = 1.0

#: Retries of one Slack request inside a send (429 / 5xx / connection reset) before the
#: outbox takes over with its own backoff; small, so a stuck channel can't hold a worker.
SLACK_INLINE_RETRIES = 2

#: A 429 asking to wait longer than this is handed to the outbox instead of slept on.
SLACK_MAX_INLINE_WAIT_SECONDS = 30.0

# --- delivery ------------------------------------------------------------------------

#: How often the delivery job looks for due alerts in the outbox.
DELIVERY_EVERY_SECONDS = 2.0

#: Outbox backoff after a transient failure: the first retry waits this long, doubling each time.
DELIVERY_BACKOFF_BASE_SECONDS = 5.0

#: The longest wait between two outbox attempts. Attempts never stop; they only slow down.
DELIVERY_BACKOFF_CAP_SECONDS = 3600.0

#: An alert or source claimed by a worker is free again after this long if the worker died.
LEASE_SECONDS = 60.0

# --- feeds ---------------------------------------------------------------------------

#: A feed server that does not accept a connection within this long is treated as down.
FEED_CONNECT_TIMEOUT_SECONDS = 10.0

#: The whole fetch (redirects and body included) must finish within this, so one slow server
#: that trickles bytes cannot hold a slot for ever.
FEED_TOTAL_TIMEOUT_SECONDS = 30.0

#: Feeds are tens to hundreds of KB; a response beyond this is aborted (guards against endless bodies).
FEED_MAX_BYTES = 10 * 1024 * 1024

#: Redirects followed per fetch; a longer chain is almost always a loop.
FEED_MAX_REDIRECTS = 5

#: Simultaneous requests to one host: polite to a site that serves many of our feeds.
FEED_PER_HOST_CONCURRENCY = 2

#: Simultaneous requests overall. Waiting on the network is cheap in asyncio; 100 keeps a poll of
#: 1,000 feeds at about ten round trips.
FEED_MAX_CONCURRENCY = 100

#: Processes that fetch, parse and prepare feeds, each for a share of the hosts (parsing is
#: CPU-bound); 0 polls in the worker process itself.
FEED_PARSE_WORKERS = 2

#: A feed worker process still parsing (and preparing) one document after this long is
#: replaced: that feed fails with ``ParseTimeout`` and the process's other feeds are polled
#: again, so one pathological document cannot stall every feed of its process.
FEED_PARSE_TIMEOUT_SECONDS = 60.0

#: A failing feed is retried with exponential backoff up to this delay; it is never disabled.
FEED_BACKOFF_CAP_SECONDS = 6 * 3600.0

# --- stories -------------------------------------------------------------------------

#: A story can be joined while its latest article is at most this old (measured against the
#: new article's publication time), and is forgotten after it. Three days covers a breaking
#: story's follow-ups over a weekend while keeping unrelated events with the same actors
#: (a second summit a week later) apart; a story that keeps being reported stays open, and a
#: report ten days after a story went quiet starts a new one.
STORY_WINDOW_SECONDS = 3 * 24 * 3600.0

#: Cosine similarity (TF-IDF, names weighted up, after time decay) an article needs with a
#: story to join it. Reports of one event typically share its names and key terms well above
#: this; articles that merely share a country or a person score below it.
STORY_JOIN_THRESHOLD = 0.25

#: Estimated Jaccard resemblance of the bodies' word-pair shingles above which an article with
#: nothing new is a duplicate (a wire copy with other furniture or a few edited words scores
#: about 0.8 or more; a rewrite of the same facts scores far lower).
STORY_DUPLICATE_THRESHOLD = 0.70

#: A sentence is new when at least this weighted share of its terms (names, numbers and dates
#: counted double) is absent from everything the story already held: half of what it says.
STORY_NOVELTY_THRESHOLD = 0.50

#: How many novel sentences an update alert quotes (the engine reports all of them, in article
#: order; three fit a chat message and still say what changed).
STORY_MAX_NOVEL_SENTENCES = 3

#: Stories remembered per index term; older ones drop out of that term's list, so one common
#: word cannot make candidate lookup cost grow with the number of stored articles.
STORY_MAX_POSTINGS_PER_TERM = 64

#: The most stories the window holds at once. The window is measured in publication time, so
#: a bulk import of undated files (each dated by its arrival) or a deployment far larger than
#: planned would otherwise hold everything it received; beyond this many, the stories quiet
#: the longest are forgotten first, and a warning says so. 100,000 stories of news-length
#: articles take about 1 GB; a 3-day window of 1,000 feeds bringing 20 new items a day each
#: holds some 60,000 articles in about 30,000 stories.
STORY_MAX_STORIES = 100_000

#: The size of the reference corpus of general English that the stream's document counts are
#: added to (see monitor.stories.reference); 0 learns term weights from the stream alone. The
#: reference is a prior worth this many documents: it decides a new deployment's first
#: thousands of articles (a common word is common from the first report on), and the stream's
#: own counts take over as it grows past it. Larger values part full-text reports of similar
#: events a little better still, but make two short summaries of one event, which share few
#: names, look less alike.
STORY_REFERENCE_DOCUMENTS = 10_000

#: New feeds' first polls are spread over this long (or their interval, if shorter).
FEED_FIRST_POLL_SPREAD_SECONDS = 60.0

#: How often the daemon looks for feeds whose next poll is due.
FEED_DISPATCH_EVERY_SECONDS = 5.0

# --- retention -----------------------------------------------------------------------

#: How often the daemon prunes by ``retention:``; pruning is cheap, so a few times a day.
RETENTION_EVERY_SECONDS = 6 * 3600.0
