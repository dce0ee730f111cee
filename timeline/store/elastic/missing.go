package elastic

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
)

// Missing returns the IDs among ids that the index does not hold, in the
// order given. It is how `jejak index` names what is missing when the final
// count check fails, instead of only saying that something is.
func (s *Store) Missing(ctx context.Context, ids []string) ([]string, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	body, err := json.Marshal(map[string]any{"ids": ids})
	if err != nil {
		return nil, err
	}
	res, err := s.client.Mget(bytes.NewReader(body),
		s.client.Mget.WithContext(ctx),
		s.client.Mget.WithIndex(s.cfg.Index),
		s.client.Mget.WithSource("false"))
	if err != nil {
		return nil, fmt.Errorf("elasticsearch mget: %w", err)
	}
	defer res.Body.Close()
	if res.IsError() {
		return nil, apiError("mget", res)
	}
	var out struct {
		Docs []struct {
			ID    string `json:"_id"`
			Found bool   `json:"found"`
		} `json:"docs"`
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		return nil, fmt.Errorf("elasticsearch mget: %w", err)
	}
	var missing []string
	for _, d := range out.Docs {
		if !d.Found {
			missing = append(missing, d.ID)
		}
	}
	return missing, nil
}
