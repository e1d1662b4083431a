package config

import (
	"slices"
	"strings"
	"testing"
)

// TestListenerKeys: per-listener keys come from the file and the
// environment (the Docker image's escaping), override the broker-wide key
// for their listener only, and are validated like it; keys that are not
// per-listener are not accepted under a listener prefix.
func TestListenerKeys(t *testing.T) {
	jaas := `org.apache.kafka.common.security.plain.PlainLoginModule required user_alice="alice-secret";`
	file := "ssl.client.auth=requested\n" +
		"listener.name.internal.ssl.client.auth=required\n" +
		"listener.name.sasl_ssl.plain.sasl.jaas.config=" + jaas + "\n" +
		"listener.name.internal.log.dirs=/nope\n"
	environ := []string{"KAFKA_LISTENER_NAME_SASL__SSL_SASL_ENABLED_MECHANISMS=PLAIN"}
	b, warnings := mustLoad(t, file, environ, nil)
	if len(warnings) != 1 || !strings.Contains(warnings[0], "listener.name.internal.log.dirs") {
		t.Errorf("warnings %q, want one for the key that is not per-listener", warnings)
	}
	if got := b.ListenerString("INTERNAL", "ssl.client.auth"); got != "required" {
		t.Errorf("INTERNAL ssl.client.auth = %q", got)
	}
	if got := b.ListenerString("EXTERNAL", "ssl.client.auth"); got != "requested" {
		t.Errorf("EXTERNAL ssl.client.auth = %q", got)
	}
	if got := b.ListenerList("SASL_SSL", "sasl.enabled.mechanisms"); len(got) != 1 || got[0] != "PLAIN" {
		t.Errorf("SASL_SSL sasl.enabled.mechanisms = %q", got)
	}
	if got := b.ListenerList("OTHER", "sasl.enabled.mechanisms"); len(got) != 1 || got[0] != "GSSAPI" {
		t.Errorf("OTHER sasl.enabled.mechanisms = %q, want Kafka's default GSSAPI", got)
	}
	if got := b.JAASConfig("SASL_SSL", "PLAIN"); got != jaas {
		t.Errorf("JAASConfig = %q", got)
	}
	if got := b.JAASConfig("OTHER", "PLAIN"); got != "" {
		t.Errorf("JAASConfig of another listener = %q", got)
	}

	for _, bad := range []map[string]string{
		{"listener.name.internal.ssl.client.auth": "sometimes"},
		{"listener.name.internal.plain.sasl.jaas.config": "no semicolon"},
		{"listener.name.internal.sasl.jaas.config": "a.B required;"}, // needs the mechanism
		{"listener.name.internal.log.dirs": "/x"},
		{"listener.name..ssl.client.auth": "none"},
	} {
		if _, _, err := Load("", nil, bad); err == nil {
			t.Errorf("Load(%v) succeeded", bad)
		}
	}
}

// TestSecretsAreSensitive: every password and key material key is
// sensitive, so DescribeConfigs and the console never show it.
func TestSecretsAreSensitive(t *testing.T) {
	for _, d := range securityDefs {
		if d.Type == TypePassword && !d.Sensitive {
			t.Errorf("%s is a password but not sensitive", d.Name)
		}
	}
	for _, name := range []string{"ssl.keystore.password", "ssl.key.password", "ssl.keystore.key", "ssl.truststore.password", "sasl.jaas.config"} {
		if d, ok := Lookup(name); !ok || !d.Sensitive {
			t.Errorf("%s is not a sensitive key", name)
		}
	}
}

// TestAuthorizerKeys: the authorizer keys parse as Kafka's, and an
// unknown authorizer class is refused.
func TestAuthorizerKeys(t *testing.T) {
	b, _ := mustLoad(t, "authorizer.class.name="+StandardAuthorizer+"\nsuper.users=User:admin; User:broker;;User:admin\n", nil, nil)
	if !b.AuthorizerEnabled() || b.Bool("allow.everyone.if.no.acl.found") {
		t.Errorf("enabled %v, allow.everyone %v", b.AuthorizerEnabled(), b.Bool("allow.everyone.if.no.acl.found"))
	}
	if got := b.SuperUsers(); !slices.Equal(got, []string{"User:admin", "User:broker"}) {
		t.Errorf("SuperUsers = %q", got)
	}
	if _, _, err := Load(writeProperties(t, "authorizer.class.name=com.example.Mine\n"), nil, nil); err == nil {
		t.Error("an unknown authorizer class loaded")
	}
	if b, _ := mustLoad(t, "", nil, nil); b.AuthorizerEnabled() || len(b.SuperUsers()) != 0 {
		t.Error("no authorizer configured, yet enabled")
	}
}
