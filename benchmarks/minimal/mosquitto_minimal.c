/* The smallest program that connects a device with libmosquitto and publishes one message; its
 * stripped size, memory and run time are what mqtt_bench compares with the other libraries'.
 *
 *   mosquitto-minimal HOST PORT SERVER_CA.pem CHAIN.pem KEY.pem IDLE_MS   (password in $DEVICE_KEY_PASSWORD)
 *
 * Connects, publishes 64 bytes at QoS 1, stays connected and idle for IDLE_MS, disconnects.
 * Exit 0 on success, 1 with the cause on stderr otherwise, 2 for bad arguments. */
#include <mosquitto.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char* password = "";
static int connack = -1;
static bool published = false;

static int on_password(char* buffer, int size, int rwflag, void* userdata)
{
    (void)rwflag;
    (void)userdata;
    const size_t n = strlen(password);
    if (n >= (size_t)size)
        return 0;
    memcpy(buffer, password, n);
    return (int)n;
}

static void on_connect(struct mosquitto* mosq, void* userdata, int rc)
{
    (void)mosq;
    (void)userdata;
    connack = rc;
}

static void on_publish(struct mosquitto* mosq, void* userdata, int mid)
{
    (void)mosq;
    (void)userdata;
    (void)mid;
    published = true;
}

static long long now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static int fail(const char* what, int rc)
{
    fprintf(stderr, "mosquitto-minimal: %s: %s\n", what, mosquitto_strerror(rc));
    return 1;
}

int main(int argc, char** argv)
{
    if (argc != 7) {
        fprintf(stderr, "usage: mosquitto-minimal HOST PORT SERVER_CA.pem CHAIN.pem KEY.pem IDLE_MS\n");
        return 2;
    }
    if (getenv("DEVICE_KEY_PASSWORD"))
        password = getenv("DEVICE_KEY_PASSWORD");
    mosquitto_lib_init();
    struct mosquitto* mosq = mosquitto_new("minimal-libmosquitto", true, NULL);
    if (!mosq)
        return fail("mosquitto_new", MOSQ_ERR_NOMEM);
    mosquitto_connect_callback_set(mosq, on_connect);
    mosquitto_publish_callback_set(mosq, on_publish);
    int rc = mosquitto_tls_set(mosq, argv[3], NULL, argv[4], argv[5], on_password);
    if (rc != MOSQ_ERR_SUCCESS)
        return fail("mosquitto_tls_set", rc);
    rc = mosquitto_connect(mosq, argv[1], atoi(argv[2]), 60);
    while (rc == MOSQ_ERR_SUCCESS && connack < 0)
        rc = mosquitto_loop(mosq, 1000, 1);
    if (rc != MOSQ_ERR_SUCCESS)
        return fail("connect", rc);
    if (connack != 0) {
        fprintf(stderr, "mosquitto-minimal: connect: %s\n", mosquitto_connack_string(connack));
        return 1;
    }
    char payload[64];
    memset(payload, 'x', sizeof payload);
    rc = mosquitto_publish(mosq, NULL, "bench/minimal", (int)sizeof payload, payload, 1, false);
    while (rc == MOSQ_ERR_SUCCESS && !published)
        rc = mosquitto_loop(mosq, 1000, 1);
    if (rc != MOSQ_ERR_SUCCESS)
        return fail("publish", rc);
    const long long idle_until = now_ms() + atol(argv[6]);
    for (long long left = idle_until - now_ms(); rc == MOSQ_ERR_SUCCESS && left > 0; left = idle_until - now_ms())
        rc = mosquitto_loop(mosq, (int)left, 1);
    if (rc != MOSQ_ERR_SUCCESS)
        return fail("idle", rc);
    mosquitto_disconnect(mosq);
    mosquitto_destroy(mosq);
    mosquitto_lib_cleanup();
    return 0;
}
