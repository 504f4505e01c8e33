"""shoplib: helpers of our shop's back office."""
