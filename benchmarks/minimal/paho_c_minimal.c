/* The smallest program that connects a device with Paho C (MQTTClient) and publishes one
 * message; its stripped size, memory and run time are what mqtt_bench compares with the other
 * libraries'.
 *
 *   paho-c-minimal HOST PORT SERVER_CA.pem CHAIN.pem KEY.pem IDLE_MS   (password in $DEVICE_KEY_PASSWORD)
 *
 * Connects, publishes 64 bytes at QoS 1, stays connected and idle for IDLE_MS, disconnects.
 * Exit 0 on success, 1 with the cause on stderr otherwise, 2 for bad arguments. */
#include <MQTTClient.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int fail(const char* what, int rc)
{
    fprintf(stderr, "paho-c-minimal: %s: %s\n", what, MQTTClient_strerror(rc));
    return 1;
}

int main(int argc, char** argv)
{
    if (argc != 7) {
        fprintf(stderr, "usage: paho-c-minimal HOST PORT SERVER_CA.pem CHAIN.pem KEY.pem IDLE_MS\n");
        return 2;
    }
    char uri[512];
    snprintf(uri, sizeof uri, "ssl://%s:%s", argv[1], argv[2]);
    MQTTClient client;
    int rc = MQTTClient_create(&client, uri, "minimal-paho-c", MQTTCLIENT_PERSISTENCE_NONE, NULL);
    if (rc != MQTTCLIENT_SUCCESS)
        return fail("MQTTClient_create", rc);

    MQTTClient_SSLOptions ssl = MQTTClient_SSLOptions_initializer;
    ssl.trustStore = argv[3];
    ssl.keyStore = argv[4];
    ssl.privateKey = argv[5];
    ssl.privateKeyPassword = getenv("DEVICE_KEY_PASSWORD");
    ssl.enableServerCertAuth = 1;
    ssl.verify = 1;
    MQTTClient_connectOptions options = MQTTClient_connectOptions_initializer;
    options.keepAliveInterval = 60;
    options.cleansession = 1;
    options.MQTTVersion = MQTTVERSION_3_1_1;
    options.ssl = &ssl;
    rc = MQTTClient_connect(client, &options);
    if (rc != MQTTCLIENT_SUCCESS)
        return fail("connect", rc);

    char payload[64];
    memset(payload, 'x', sizeof payload);
    MQTTClient_deliveryToken token;
    rc = MQTTClient_publish(client, "bench/minimal", (int)sizeof payload, payload, 1, 0, &token);
    if (rc == MQTTCLIENT_SUCCESS)
        rc = MQTTClient_waitForCompletion(client, token, 30000);
    if (rc != MQTTCLIENT_SUCCESS)
        return fail("publish", rc);

    const long idle_ms = atol(argv[6]);
    const struct timespec idle = {idle_ms / 1000, (idle_ms % 1000) * 1000000};
    nanosleep(&idle, NULL);
    MQTTClient_disconnect(client, 1000);
    MQTTClient_destroy(&client);
    return 0;
}
