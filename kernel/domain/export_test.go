package domain

// ImplOf exposes what d's constructor returned, for the test that walks
// what domains hold.
func ImplOf(d *Domain) any {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.impl
}
