package image

import (
	"container/list"
	"sync"
)

// chunkCache is a small LRU of decoded chunks, so sequential ReadAt calls
// smaller than a chunk inflate each chunk once.
type chunkCache struct {
	mu    sync.Mutex
	max   int
	ll    *list.List // front = most recent
	items map[int64]*list.Element
}

type cacheItem struct {
	key  int64
	data []byte
}

func newChunkCache(max int) *chunkCache {
	return &chunkCache{max: max, ll: list.New(), items: map[int64]*list.Element{}}
}

func (c *chunkCache) get(k int64) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[k]; ok {
		c.ll.MoveToFront(e)
		return e.Value.(*cacheItem).data, true
	}
	return nil, false
}

func (c *chunkCache) put(k int64, data []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[k]; ok {
		c.ll.MoveToFront(e)
		return
	}
	c.items[k] = c.ll.PushFront(&cacheItem{key: k, data: data})
	for c.ll.Len() > c.max {
		old := c.ll.Back()
		c.ll.Remove(old)
		delete(c.items, old.Value.(*cacheItem).key)
	}
}
