package acl

import (
	"testing"

	"github.com/sluice-dev/sluice/internal/testutil"
)

func TestMain(m *testing.M) { testutil.VerifyNoLeaks(m) }
