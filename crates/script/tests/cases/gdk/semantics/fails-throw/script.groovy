throw new IllegalStateException('boom')
