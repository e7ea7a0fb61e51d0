"""The load-test results dashboard: trends per target and endpoint, regression flags, the
latest run's detail and links to the raw files, rendered server-side as HTML with inline SVG
(no script, no CDN). ``serve dashboard`` serves it for every target of the store; inside
``flowllama up`` each deployment's owner sees the same pages for their runs only."""
