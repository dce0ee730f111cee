package registry

func (w *walker) software(root *Key) error  { return nil }
func (w *walker) ntuser(root *Key) error    { return nil }
func (w *walker) amcache(root *Key) error   { return nil }
func (w *walker) shellbags(root *Key) error { return nil }
