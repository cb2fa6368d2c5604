"""The relationship numbers of the 总览 dashboard, as domain functions (docs/dashboard.md).

Each figure is defined once, as the query of the buyers behind it; a count is the count of
that query, so a number and its drill-down list can never disagree. ``periods`` cuts a date
range into local days, Monday weeks or months; ``figures`` holds the per-bucket buyer
queries; ``rollups`` caches counts of buckets that are over; ``metrics``, ``cohorts``,
``funnel``, ``tier_moves`` and ``campaign_conversion`` compute one section each;
``dashboard`` gathers them with the previous period; ``api`` serves them as JSON.

This package renders nothing (the console's pages call it) and writes only its cache.
"""
