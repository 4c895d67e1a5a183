"""The project's own formats (FORMAT_MODULE_PATH): what it writes differently from Django's
locale defaults, so that every page, plot, admin screen and command writes a number or a date
one way per language. Whatever is not set here comes from Django's locale."""
