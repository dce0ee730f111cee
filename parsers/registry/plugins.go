package registry

// plugins runs the decoders for the hive's type.
func (w *walker) plugins(root *Key) error {
	return nil
}
