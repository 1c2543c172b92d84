"""Each page's view: what a page draws, numbers and figures together, built by one call the page caches whole."""
